"""The regimes of the verdeelmodel, by name (light: the command line reads them for its help)."""

#: historic: the historic key throughout; objective: the objective key from the start year;
#: phased: a regional shared purse moving along the ingroeipad; two_track: new clients paid by
#: their municipality from the cohort date, the money following the ingroeipad (the default).
REGIMES = ("historic", "objective", "phased", "two_track")
