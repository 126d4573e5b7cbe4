"""The package layout, the one part of the build that pyproject.toml cannot state by itself.

pykernel's kernelspec resources (the logos and the kernel.json template) live in the top-level
`kernelspec/` folder and ship inside the package as `pykernel/_kernelspec/`, where
`pykernel.kernelspec.resource_dir()` finds them after a non-editable install. pyproject's package
discovery cannot add a package whose files sit outside the package tree, so the list is made here:
every package under `pykernel/`, plus that mapped one. All other metadata is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["pykernel", "pykernel.*"]), "pykernel._kernelspec"],
    package_dir={"pykernel._kernelspec": "kernelspec"},
    package_data={"pykernel._kernelspec": ["kernel.json", "*.png", "*.svg"]},
)
