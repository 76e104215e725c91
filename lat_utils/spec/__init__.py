"""The experiment's specification, below everything else: what the paper states (``paper``), the attacks' named
budgets and step-size rule (``budgets``), the networks and their training recipes (``recipes``), and a run's
settings with the named changes that make a profile of them (``settings``). ``lat_utils.config`` builds the
paper's setting and the profiles from these.
"""
