"""``cgmob.descriptors``: g(r), MSD, D and densities of a trajectory, computed on the computer that holds it.

The trajectory is symlinked from the parent's remote folder (it never travels); the package's
``cgmob-descriptors`` script runs there and only its arrays and scalars are retrieved.
"""

from __future__ import annotations

import json

from aiida import orm
from aiida.common import datastructures
from aiida.engine import CalcJob

from aiida_cgmob.analysis.descriptors import validate_settings as validate_descriptor_settings
from aiida_cgmob.parsers.descriptors import DESCRIPTOR_FILES, STEM, define_descriptor_outputs

__all__ = ['DescriptorsCalculation', 'descriptor_command', 'descriptors_codeinfo', 'validate_descriptor_settings_node']

SETTINGS_FILE = f'{STEM}_settings.json'


def validate_descriptor_settings_node(value, _=None) -> str | None:
    if value is None:
        return None
    try:
        validate_descriptor_settings(value.get_dict())
    except ValueError as exception:
        return f'settings: {exception}'
    return None


def descriptor_command(trajectory: str, topology: str | None = None, bead_mass: float | None = None,
                       timestep: float | None = None) -> list[str]:
    """Command-line arguments of ``cgmob-descriptors`` (the settings file is written next to them)."""
    arguments = [trajectory]
    if topology:
        arguments += ['--topology', topology]
    if bead_mass is not None:
        arguments += ['--bead-mass', repr(float(bead_mass))]
    if timestep is not None:
        arguments += ['--timestep', repr(float(timestep))]
    return arguments + ['--settings', SETTINGS_FILE, '--output', STEM]


def descriptors_codeinfo(folder, code: orm.AbstractCode, settings: orm.Dict | None,
                         arguments: list[str]) -> datastructures.CodeInfo:
    """Write the settings file into ``folder`` and return the CodeInfo running ``cgmob-descriptors``
    with ``arguments`` (from :func:`descriptor_command`): the same run in a descriptors job and after MD."""
    with folder.open(SETTINGS_FILE, 'w') as handle:
        json.dump(settings.get_dict() if settings is not None else {}, handle)
    codeinfo = datastructures.CodeInfo()
    codeinfo.code_uuid = code.uuid
    codeinfo.cmdline_params = arguments
    codeinfo.stdout_name = f'{STEM}.log'
    codeinfo.join_files = True
    return codeinfo


def gromacs_production(parent: orm.RemoteData) -> tuple[str, dict] | None:
    """Name and mdp of the production (last) stage when ``parent`` was made by ``cgmob.gromacs``, else None."""
    from aiida_cgmob.gromacs import plan_stages

    creator = parent.creator
    if creator is None or not (creator.process_type or '').endswith('cgmob.gromacs'):
        return None
    stage = plan_stages(creator.inputs.parameters.get_dict()['stages'])[-1]
    return stage['name'], stage['mdp']


def default_source(parent: orm.RemoteData) -> dict:
    """Trajectory and topology file names the parent's calculation is known to write ({} if unknown)."""
    production = gromacs_production(parent)
    if production is None:
        return {}
    return {'trajectory': f'{production[0]}.xtc', 'topology': f'{production[0]}.tpr'}


def validate_inputs(inputs, _):
    parent = inputs['parent_folder']
    code = inputs.get('code')
    if code is not None and code.computer is not None and parent.computer.pk != code.computer.pk:
        return (f'parent_folder is on computer {parent.computer.label!r} but code {code.full_label!r} runs on '
                f'{code.computer.label!r}: descriptors run where the trajectory is')
    source = default_source(parent)
    if 'trajectory' not in inputs and not source:
        return ('trajectory: the parent folder was not made by cgmob.gromacs, so name the trajectory file in it '
                '(and give topology for an all-atom run, or bead_mass for a CG run)')
    trajectory = inputs['trajectory'].value if 'trajectory' in inputs else source['trajectory']
    topology = inputs['topology'].value if 'topology' in inputs else source.get('topology')
    if not topology and 'bead_mass' not in inputs:
        return f'bead_mass: the CG trajectory {trajectory!r} needs a bead mass in g/mol (or give an all-atom topology)'
    if 'bead_mass' in inputs and not inputs['bead_mass'].value > 0:
        return f'bead_mass must be a positive mass in g/mol, got {inputs["bead_mass"].value!r}'
    if trajectory.endswith(('.lammpstrj', '.dump')) and 'timestep' not in inputs:
        return f'timestep: the LAMMPS text dump {trajectory!r} needs the integration time step in fs'
    production = gromacs_production(parent)
    if production is not None and 'trajectory' not in inputs and not int(production[1].get('nstxout-compressed') or 0):
        return (f'parent_folder: the production stage {production[0]!r} of calculation {parent.creator.pk} wrote no '
                'trajectory (nstxout-compressed = 0); rerun it with nstxout-compressed > 0')
    return None


class DescriptorsCalculation(CalcJob):
    """One-bead descriptors (g(r), MSD, D, densities) of an AA or CG trajectory in a remote folder.

    All-atom GROMACS runs are mapped to molecular centres of mass through their ``.tpr``; in a CG
    trajectory every particle is a bead of ``bead_mass``.  For a ``cgmob.gromacs`` parent the
    production ``.tpr``/``.xtc`` are found by themselves.
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('parent_folder', valid_type=orm.RemoteData,
                   help='Remote folder of the MD run that holds the trajectory (symlinked, never copied).')
        spec.input('settings', valid_type=orm.Dict, required=False, validator=validate_descriptor_settings_node,
                   help='r_max, bin_width (nm); begin, end, fit_window, tail_fraction, slope_tolerance (ps); '
                        'temperature (K) and viscosity (Pa s) for a reported Yeh-Hummer correction.')
        spec.input('trajectory', valid_type=orm.Str, required=False,
                   help='Trajectory file in parent_folder (.xtc, .trr, LAMMPS .lammpstrj/.dump); default for a '
                        'cgmob.gromacs parent: <production>.xtc.')
        spec.input('topology', valid_type=orm.Str, required=False,
                   help='GROMACS .tpr in parent_folder: map atoms to molecular centres of mass.')
        spec.input('bead_mass', valid_type=orm.Float, required=False, help='Bead mass of a CG trajectory (g/mol).')
        spec.input('timestep', valid_type=orm.Float, required=False,
                   help='Integration time step (fs) of a LAMMPS text dump, to convert steps to ps.')
        spec.inputs.validator = validate_inputs
        spec.inputs['metadata']['options']['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        spec.inputs['metadata']['options']['parser_name'].default = 'cgmob.descriptors'

        define_descriptor_outputs(spec)

        spec.exit_code(300, 'ERROR_NO_OUTPUT', invalidates_cache=True,
                       message='cgmob-descriptors wrote neither results nor an error report: {log}')
        spec.exit_code(301, 'ERROR_MISSING_INPUT_FILE', message='{error}')
        spec.exit_code(302, 'ERROR_OUTPUT_UNREADABLE', invalidates_cache=True,
                       message='The descriptor files could not be read: {error}')
        spec.exit_code(410, 'ERROR_BOX_TOO_SMALL', message='{error}')
        spec.exit_code(420, 'ERROR_NO_DIFFUSIVE_REGIME', message='Trajectory too short: {error}')
        spec.exit_code(430, 'ERROR_TRAJECTORY_UNUSABLE', message='{error}')

    def prepare_for_submission(self, folder):
        parent = self.inputs.parent_folder
        source = default_source(parent)
        trajectory = self.inputs.trajectory.value if 'trajectory' in self.inputs else source['trajectory']
        topology = self.inputs.topology.value if 'topology' in self.inputs else source.get('topology')
        codeinfo = descriptors_codeinfo(folder, self.inputs.code, self.inputs.get('settings'), descriptor_command(
            trajectory, topology,
            self.inputs.bead_mass.value if 'bead_mass' in self.inputs else None,
            self.inputs.timestep.value if 'timestep' in self.inputs else None))

        calcinfo = datastructures.CalcInfo()
        calcinfo.codes_info = [codeinfo]
        remote = parent.get_remote_path()
        calcinfo.remote_symlink_list = [(parent.computer.uuid, f'{remote}/{name}', name)
                                        for name in (trajectory, topology) if name]
        calcinfo.retrieve_list = list(DESCRIPTOR_FILES)
        return calcinfo
