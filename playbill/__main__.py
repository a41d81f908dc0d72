"""``python -m playbill``: the command line (`playbill.cli`)."""

from playbill.cli import main

main(prog_name="playbill")
