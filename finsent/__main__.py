from finsent.cli import run

run()
