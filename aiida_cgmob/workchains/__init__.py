"""Work chains of aiida-cgmob: restart chains around each CalcJob."""
