from rdfexport.cli import main

main()
