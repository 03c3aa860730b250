"""CalcJob plugins of aiida-cgmob (entry points cgmob.*)."""
