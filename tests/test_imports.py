"""Every assignment's modules import together in one process without colliding."""

import importlib
import pkgutil
import sys

import pytest

ASSIGNMENTS = ["mri_cs", "medical_cnn", "autoencoders", "auto_decoder", "backprop", "dry", "common", "lab"]


def _all_modules(package_name: str) -> list[str]:
    package = importlib.import_module(package_name)
    return [package_name] + [m.name for m in pkgutil.walk_packages(package.__path__, prefix=package_name + ".")]


def test_every_assignment_imports_in_one_process():
    imported = {}
    for name in ASSIGNMENTS:
        for module_name in _all_modules(name):
            imported[module_name] = importlib.import_module(module_name)
    # Same basename in different assignments (utils.py, models/, main.py...) must stay distinct modules.
    by_basename: dict[str, set[str]] = {}
    for module_name, module in imported.items():
        assert sys.modules[module_name] is module
        by_basename.setdefault(module_name.rsplit(".", 1)[-1], set()).add(module.__file__)
    for basename, files in by_basename.items():
        owners = [m for m in imported if m.rsplit(".", 1)[-1] == basename]
        assert len(files) == len(owners), f"modules named {basename!r} resolved to the same file: {owners}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_assignment_is_a_regular_package(name):
    package = importlib.import_module(name)
    assert package.__file__ is not None and package.__file__.endswith("__init__.py")
