from datamove.cli.app import main

main()
