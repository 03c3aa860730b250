"""Inputs of a synthetic sample that runs in seconds, shared by the sample tests and the daemon-kill build."""

from __future__ import annotations

from conftest import tiny_stages

#: 60 molecules, 5 ps of production, 2 inversion iterations of 200 beads, 2 CG runs of 10 ps
TINY = {
    'n_molecules': 60, 'n_masses': 2, 'start_density': 500.0,
    'aa': {'gromacs': {'parameters': {'stages': tiny_stages(500, 2500, **{'nstxout-compressed': 50})},
                       'descriptors': {'settings': {'fit_window': [0.5, 2.0]}}}},
    'ibi': {'ibi': {'n_beads': 200, 'settings': {'cutoff': 1.0, 'max_iterations': 2, 'tolerance': 0.05},
                    'lammps_settings': {'timestep': 0.004, 'equilibration': 1.0, 'production': 5.0,
                                        'frame_interval': 0.1, 'thermo_interval': 0.2, 'restart_interval': 5.0}}},
    'cg': {'lammps': {'settings': {'timestep': 0.005, 'equilibration': 2.0, 'production': 10.0,
                                   'frame_interval': 0.1, 'thermo_interval': 0.2, 'restart_interval': 10.0},
                      'descriptors': {'settings': {'fit_window': [0.5, 3.0]}}}},
}
#: one core per job, short wall time
OPTIONS = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'max_wallclock_seconds': 600}
