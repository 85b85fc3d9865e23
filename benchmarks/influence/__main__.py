from benchmarks.influence.cli import main

main()
