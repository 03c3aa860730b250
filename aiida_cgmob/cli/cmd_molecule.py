"""``aiida-cgmob molecule``: build OPLS-AA hydrocarbon liquids (no AiiDA profile needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import click

from . import cmd_root
from .options import LIQUID_DENSITY


@cmd_root.group('molecule')
def cmd_molecule():
    """Build OPLS-AA molecules and liquids, with optional synthetic bonded parameters."""


@cmd_molecule.command('list')
def cmd_list():
    """List the built-in molecule names."""
    from aiida_cgmob.topology import BUILTIN_MOLECULES

    for name, molecule in BUILTIN_MOLECULES.items():
        density = f'{molecule.density:.0f} kg/m^3' if molecule.density else ''
        click.echo(f'{name:<12s} {molecule.smiles:<18s} {molecule.iupac:<24s} {density}')


@cmd_molecule.command('build')
@click.argument('molecule')
@click.option('-n', '--n-molecules', type=click.IntRange(min=1), default=200, show_default=True)
@click.option('-o', '--output', type=click.Path(file_okay=False), required=True, help='Folder to write into.')
@click.option('--density', type=click.FloatRange(min=0, min_open=True), default=500.0, show_default=True,
              help='Starting density of the box, kg/m^3 (NPT equilibration brings it to the liquid density).')
@click.option('--seed', type=click.IntRange(min=0), default=0, show_default=True,
              help='Seed of the 3D structure and of the molecule placement.')
@click.option('--sample-seed', type=click.IntRange(min=0), default=None,
              help='Perturb the bonded parameters with this seed (default ranges; see --ranges).')
@click.option('--ranges', type=click.Path(dir_okay=False, exists=True), default=None,
              help='JSON file of sampling ranges overriding the defaults, e.g. {"angle_theta0": [90, 130]}.')
@click.option('--cutoff', type=click.FloatRange(min=0, min_open=True), default=None,
              help='Largest non-bonded cut-off (rvdw, rcoulomb) the liquid will be run with, nm; the box must stay '
                   'longer than twice it. [default: that of the GROMACS stage defaults, 1.1 nm]')
@LIQUID_DENSITY()
@click.option('--check/--no-check', default=True, show_default=True,
              help='Run `gmx grompp` on the result and fail on any warning.')
def cmd_build(molecule, n_molecules, output, density, seed, sample_seed, ranges, cutoff, liquid_density, check):
    """Write conf.gro, topol.top and the molecule's .itp for N molecules of MOLECULE.

    MOLECULE is a built-in name (see `aiida-cgmob molecule list`) or a hydrocarbon SMILES. The box is
    checked against twice the cut-off at the liquid density before anything is written.
    """
    from aiida_cgmob import topology
    from aiida_cgmob.gromacs import largest_cutoff

    cutoff = cutoff or largest_cutoff()
    try:
        built = topology.build_molecule(molecule)
        if liquid_density is None:
            liquid_density, source = topology.expected_liquid_density(built)
        else:
            source = 'given'
        try:
            topology.check_box_for_cutoff(built.mass, n_molecules, cutoff, density, liquid_density, name=molecule)
        except topology.BoxTooSmallError as exception:
            hint = '' if source in ('experimental', 'given') else (
                f' The liquid density is not known: {liquid_density:g} kg/m^3 is the {source}; '
                'pass --liquid-density if you know it.')
            raise click.ClickException(f'{exception}{hint}') from exception
        sampled = None
        if sample_seed is not None:
            user_ranges = json.loads(Path(ranges).read_text()) if ranges else None
            sampled = topology.sample_bonded_parameters(built, sample_seed, user_ranges)
        liquid = topology.build_liquid(molecule, n_molecules, density, seed, sampled)
    except (ValueError, RuntimeError) as exception:
        raise click.ClickException(str(exception)) from exception
    paths = liquid.write(output)
    if sampled is not None:
        (Path(output) / 'bonded_parameters.json').write_text(json.dumps(sampled, indent=1))
    m = liquid.molecule
    click.echo(f'{m.name} ({m.smiles}): {len(m.atoms)} atoms, {m.mass:.3f} g/mol, {n_molecules} molecules, '
               f'box {liquid.box.box:.3f} nm at {density:g} kg/m^3')
    for kind, path in paths.items():
        click.echo(f'  {kind}: {path}')
    if check:
        grompp_check(Path(output), cutoff)
        click.echo('  gmx grompp: accepted without warnings')


def grompp_check(directory: Path, cutoff: float | None = None) -> None:
    """Run ``gmx grompp`` on the liquid in ``directory`` with a minimisation .mdp; fail on any error or warning.

    Parameters
    ----------
    directory
        Holds ``conf.gro`` and ``topol.top``.
    cutoff
        rvdw and rcoulomb of the .mdp, nm; None keeps the stage defaults.

    Raises
    ------
    click.ClickException
        With grompp's own causes (its ERROR and WARNING blocks), not only its summary line.
    """
    gmx = shutil.which('gmx')
    if gmx is None:
        raise click.ClickException('gmx not found on PATH: install GROMACS or pass --no-check')
    from aiida_cgmob.gromacs import plan_stages, write_mdp

    cutoffs = {'rvdw': cutoff, 'rcoulomb': cutoff} if cutoff else {}
    (stage,) = plan_stages([{'name': 'em', 'type': 'minimise', 'mdp': cutoffs}, {'name': 'x', 'type': 'nvt'}])[:1]
    with tempfile.TemporaryDirectory() as tmp:
        mdp = Path(tmp) / 'em.mdp'
        mdp.write_text(write_mdp(stage['mdp']))
        result = subprocess.run([gmx, '-nobackup', 'grompp', '-f', str(mdp), '-c', 'conf.gro', '-p', 'topol.top',
                                 '-o', str(Path(tmp) / 'em.tpr'), '-po', str(Path(tmp) / 'mdout.mdp'),
                                 '-maxwarn', '0'], cwd=directory, capture_output=True, text=True)
    if result.returncode != 0:
        from aiida_cgmob.gromacs.outputs import grompp_failure

        # grompp writes its ERROR/WARNING blocks to stdout or stderr depending on the version: read both.
        output = f'{result.stdout}\n{result.stderr}'
        raise click.ClickException(f'gmx grompp refused the liquid: {grompp_failure(output) or output[-3000:]}')
