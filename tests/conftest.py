"""The suite's Hypothesis profile (`dev`, or `ci` when CI is set, or HYPOTHESIS_PROFILE) is
loaded by playbill's own pytest plugin, which installing playbill registers (the `pytest11`
entry point): the suite uses it as users do."""
