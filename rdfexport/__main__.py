from rdfexport.cli import main

if __name__ == "__main__":  # not again in worker processes started by spawn or forkserver
    main()
