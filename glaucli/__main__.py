from glaucli.cli.app import main

main()
