"""Science kernel: OPLS-AA hydrocarbon topologies, synthetic bonded parameters and liquid boxes.

No AiiDA import here: everything works from a notebook or a shell on any computer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .box import (
    BOX_MARGIN,
    DENSITY_BOUNDS,
    BoxTooSmallError,
    LiquidBox,
    PackingError,
    box_length_for_density,
    check_box_for_cutoff,
    expected_liquid_density,
    minimum_molecules,
    pack_liquid,
)
from .gromacs_files import write_gro, write_itp, write_top
from .molecule import BUILTIN_MOLECULES, Molecule, MoleculeError, build_molecule, resolve_smiles
from .sampler import DEFAULT_RANGES, apply_bonded_parameters, sample_bonded_parameters, validate_ranges

__all__ = [
    'BOX_MARGIN', 'BUILTIN_MOLECULES', 'DEFAULT_RANGES', 'DENSITY_BOUNDS', 'BoxTooSmallError', 'Liquid', 'LiquidBox',
    'Molecule', 'MoleculeError', 'PackingError', 'apply_bonded_parameters', 'box_length_for_density',
    'build_liquid', 'build_molecule', 'check_box_for_cutoff', 'expected_liquid_density', 'minimum_molecules',
    'pack_liquid', 'resolve_smiles', 'sample_bonded_parameters', 'validate_ranges', 'write_gro', 'write_itp',
    'write_top',
]

#: Starting density of a built box (kg/m^3): loose enough for random insertion, NPT does the rest.
DEFAULT_START_DENSITY = 500.0


@dataclass
class Liquid:
    """A liquid ready for GROMACS: the molecule and the text of its files."""

    molecule: Molecule
    box: LiquidBox
    gro: str
    top: str  # self-contained: molecule written inline
    itp: str

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write ``conf.gro``, ``topol.top`` (including ``<resname>.itp``) and the .itp into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        itp_name = f'{self.molecule.resname}.itp'
        paths = {'gro': directory / 'conf.gro', 'top': directory / 'topol.top', 'itp': directory / itp_name}
        paths['gro'].write_text(self.gro)
        paths['itp'].write_text(self.itp)
        paths['top'].write_text(write_top(self.molecule, self.box.n_molecules, itp_name=itp_name))
        return paths


def build_liquid(
    name_or_smiles: str,
    n_molecules: int,
    density: float = DEFAULT_START_DENSITY,
    seed: int = 0,
    bonded_parameters: dict | None = None,
) -> Liquid:
    """Build ``n_molecules`` of a hydrocarbon at ``density`` (kg/m^3), optionally with sampled bonded parameters."""
    molecule = build_molecule(name_or_smiles, seed=seed)
    if bonded_parameters is not None:
        molecule = apply_bonded_parameters(molecule, bonded_parameters)
    box = pack_liquid(molecule, n_molecules, density, seed=seed)
    title = f'{molecule.name} {molecule.smiles} x{n_molecules} at {density:g} kg/m^3 (seed {seed})'
    return Liquid(molecule, box, write_gro(molecule, box.positions, box.box, title),
                  write_top(molecule, n_molecules), write_itp(molecule))
