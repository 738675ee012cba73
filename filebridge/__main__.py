from filebridge.cli import main

main()
