"""``aiida-cgmob cg run`` on table files written elsewhere: a VOTCA-made LAMMPS table whose U at the cutoff is not 0
is refused with a message that names ``--shift``, and with ``--shift`` it runs for real (LAMMPS, fast protocol, 256
beads, a few seconds) without LAMMPS' force warning; the shift is recorded on the potential node."""

from __future__ import annotations

import click
import pytest
from aiida import orm
from click.testing import CliRunner
from potential_tables import EPSILON_LIQUID, U_CUT, lj_energy_force, votca_lammps_table

from aiida_cgmob.cli import cmd_root
from aiida_cgmob.data import PotentialData
from aiida_cgmob.workchains.lammps_cg_base import LammpsCgBaseWorkChain


def count_potentials() -> int:
    return orm.QueryBuilder().append(PotentialData).count()


def test_cg_run_refuses_an_unshifted_table_and_runs_it_with_shift(lmp_code, tmp_path):
    table = tmp_path / 'CG-CG.table'
    votca_lammps_table(table)
    args = ['cg', 'run', str(table), '--keyword', 'VOTCA', '-X', lmp_code.full_label, '--mass', '16.04',
            '--number-density', '13', '--protocol', 'fast', '--no-descriptors']
    runner = CliRunner()
    before = count_potentials()
    result = runner.invoke(cmd_root, args)
    assert result.exit_code != 0
    message = 'U(r_c) = -0.000912519 kJ/mol (-0.000218097 kcal/mol in the file) at the cutoff r_c = 1.2 nm'
    assert message in result.output
    assert '(on the command line: --shift)' in result.output
    assert count_potentials() == before  # nothing stored

    result = runner.invoke(cmd_root, [*args, '--shift'])
    assert result.exit_code == 0, result.output
    assert 'every energy shifted by +0.000912519 kJ/mol (--shift)' in result.output
    assert 'force values are inconsistent with -dU/dr (LAMMPS would warn)' in result.output  # about the file
    assert 'finished, exit 0' in result.output and 'LAMMPS warnings' not in result.output
    chain = orm.QueryBuilder().append(LammpsCgBaseWorkChain).order_by({LammpsCgBaseWorkChain: {'ctime': 'desc'}}).first(
        flat=True)
    assert chain.is_finished_ok
    node = chain.inputs.lammps.potential
    assert node.label == 'CG-CG.table' and node.cutoff == pytest.approx(1.2)
    assert node.treatment['energy_shift_kJ_mol'] == pytest.approx(-U_CUT, rel=1e-9)
    assert node.potential.energy[-1] == 0.0
    thermo = chain.outputs.thermo.get_dict()
    assert not any('inconsistent' in warning for warning in thermo.get('warnings', []))
    assert thermo['temperature_K'] == pytest.approx(298.15, rel=0.05)


def test_votca_table_with_undefined_core_through_potential_node(aiida_profile, tmp_path):
    """A csg ``r U flag`` table from r = 0 (core flagged u): stored from 0.3 nm on, shifted, both recorded."""
    from aiida_cgmob.cli.cmd_cg import potential_node

    r = [i * 0.01 for i in range(121)]
    lines = ['# csg_inverse potential (nm, kJ/mol)']
    u_c = float(lj_energy_force(1.2, EPSILON_LIQUID)[0])
    for x in r:
        if x < 0.295:
            lines.append(f'{x:.2f} nan u')
        else:
            lines.append(f'{x:.2f} {float(lj_energy_force(x)[0]) - u_c + U_CUT:.10e} i')
    path = tmp_path / 'CG-CG.pot.new'
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(click.ClickException, match='--shift'):
        potential_node(str(path), 'votca')
    node = potential_node(str(path), 'votca', shift=True)
    assert node.is_stored and node.base.attributes.get('r_min') == pytest.approx(0.3)
    assert node.treatment['dropped'].startswith('30 point(s) below r = 0.3 nm')
    assert node.treatment['energy_shift_kJ_mol'] == pytest.approx(-U_CUT, rel=1e-9)
