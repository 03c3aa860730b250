"""Physical constants and unit factors, defined once (package units: nm, ps, kJ/mol, g/mol, K)."""

AVOGADRO = 6.02214076e23  # 1/mol, exact (SI 2019)
BOLTZMANN = 1.380649e-23  # J/K, exact (SI 2019)
BOLTZMANN_KJ = 0.0083144626  # kJ/mol/K (R = N_A k_B)
KJ_PER_KCAL = 4.184  # thermochemical calorie, exact
ANGSTROM_PER_NM = 10.0
