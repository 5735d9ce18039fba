"""Learning-set files: one YAML file that is the whole record of a set, to import and export."""

from toolkit.setfile.apply import import_file, import_set
from toolkit.setfile.read import parse_set_file
from toolkit.setfile.schema import SetFile, wall_time_exists
from toolkit.setfile.write import export_set

__all__ = [
    "SetFile",
    "export_set",
    "import_file",
    "import_set",
    "parse_set_file",
    "wall_time_exists",
]
