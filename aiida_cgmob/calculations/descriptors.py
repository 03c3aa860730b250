"""``cgmob.descriptors``: g(r), MSD, D and densities of a trajectory, computed on the computer that holds it.

The trajectory is symlinked from the parent's remote folder (it never travels); the package's
``cgmob-descriptors`` script runs there and only its arrays and scalars are retrieved.
"""

from __future__ import annotations

from aiida import orm
from aiida.common import datastructures

from aiida_cgmob.analysis import files as descriptor_files
from aiida_cgmob.exit_codes import define_exit_codes

from .base import (
    CgmobCalcJob,
    define_descriptor_outputs,
    descriptor_arguments,
    same_computer_error,
    validate_descriptor_settings_node,
)

__all__ = ['DescriptorsCalculation']

#: the longest integration time step (ps) taken for an MD time step: 100 fs, far above any CG step
MAXIMUM_TIMESTEP = 0.1


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
    """One consistent request: the trajectory's folder on the code's computer, a way to map it to beads."""
    parent = inputs['parent_folder']
    error = same_computer_error('parent_folder', parent, inputs.get('code'), 'descriptors run where the trajectory is')
    if error:
        return error
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
        return f'timestep: the LAMMPS text dump {trajectory!r} needs the integration time step in ps'
    if 'timestep' in inputs and not 0 < inputs['timestep'].value <= MAXIMUM_TIMESTEP:
        return (f'timestep = {inputs["timestep"].value!r} ps is not an MD time step (0 < dt <= {MAXIMUM_TIMESTEP} ps); '
                'it is in ps now (it was fs in 0.1.0): 5 fs is 0.005')
    production = gromacs_production(parent)
    if production is not None and 'trajectory' not in inputs and not int(production[1].get('nstxout-compressed') or 0):
        return (f'parent_folder: the production stage {production[0]!r} of calculation {parent.creator.pk} wrote no '
                'trajectory (nstxout-compressed = 0); rerun it with nstxout-compressed > 0')
    return None


class DescriptorsCalculation(CgmobCalcJob):
    """One-bead descriptors (g(r), MSD, D, densities) of an AA or CG trajectory in a remote folder.

    All-atom GROMACS runs are mapped to molecular centres of mass through their ``.tpr``; in a CG
    trajectory every particle is a bead of ``bead_mass``.  For a ``cgmob.gromacs`` parent the
    production ``.tpr``/``.xtc`` are found by themselves.
    """

    _parser_name = 'cgmob.descriptors'

    @classmethod
    def define(cls, spec):
        """Ports, outputs and exit codes (see :mod:`aiida_cgmob.exit_codes`)."""
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
                   help='Integration time step (ps, as in the LAMMPS settings) of a LAMMPS text dump.')
        spec.inputs.validator = validate_inputs

        define_descriptor_outputs(spec)
        define_exit_codes(spec, 'ERROR_NO_OUTPUT', 'ERROR_OUTPUT_UNREADABLE', 'ERROR_INPUT_FILE_MISSING',
                              'ERROR_BOX_TOO_SMALL', 'ERROR_NO_DIFFUSIVE_REGIME', 'ERROR_TRAJECTORY_UNUSABLE')

    def prepare_for_submission(self, folder):
        """Link the trajectory (and topology) from the parent folder; run ``cgmob-descriptors`` on them."""
        parent = self.inputs.parent_folder
        source = default_source(parent)
        trajectory = self.inputs.trajectory.value if 'trajectory' in self.inputs else source['trajectory']
        topology = self.inputs.topology.value if 'topology' in self.inputs else source.get('topology')
        arguments = descriptor_arguments(
            [trajectory], topology, self.inputs.bead_mass.value if 'bead_mass' in self.inputs else None,
            self.inputs.timestep.value if 'timestep' in self.inputs else None)
        codeinfo = self.descriptors_codeinfo(folder, arguments, self.inputs.code, self.inputs.get('settings'))

        calcinfo = datastructures.CalcInfo()
        calcinfo.codes_info = [codeinfo]
        calcinfo.prepend_text = self.thread_export
        remote = parent.get_remote_path()
        calcinfo.remote_symlink_list = [(parent.computer.uuid, f'{remote}/{name}', name)
                                        for name in (trajectory, topology) if name]
        calcinfo.retrieve_list = list(descriptor_files.OUTPUT_FILES)
        return calcinfo
