"""The importer's entry point. `kforge import` runs this file by its path under `python -I` (harness/importers/import.cpp),
where sys.path holds no folder of kforge's own: the folder that holds kforge/ goes on sys.path for the import of
the package only, so that the problem files the importer executes see the sys.path they would see without it.
`python -m kforge.importer` works too, with that folder on the path already."""
import os
import sys

# No __pycache__ beside the sources: they may be installed read-only, and a checkout stays clean.
sys.dont_write_bytecode = True
if __package__:
    from kforge.importer.cli import main
else:
    folder = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, folder)
    try:
        from kforge.importer.cli import main
    finally:
        sys.path.remove(folder)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
