"""Physical constants and unit factors, defined once (package units: nm, ps, kJ/mol, g/mol, K)."""

#: Avogadro constant (1/mol), exact (SI 2019).
AVOGADRO = 6.02214076e23
#: Boltzmann constant (J/K), exact (SI 2019).
BOLTZMANN = 1.380649e-23
#: Molar gas constant R = N_A k_B (kJ/mol/K): k_B T in kJ/mol per kelvin.
BOLTZMANN_KJ = 0.0083144626
#: kJ per kcal (thermochemical calorie, exact).
KJ_PER_KCAL = 4.184
#: Å per nm.
ANGSTROM_PER_NM = 10.0
#: nm^-3 x g/mol -> kg/m^3 (1e27 nm^-3/m^3 x 1e-3 kg/g / Avogadro): mass density of a number density.
MASS_DENSITY_FACTOR = 1e24 / AVOGADRO
