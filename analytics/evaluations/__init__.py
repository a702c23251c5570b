"""Evaluations: versioned forms, automatic answers with evidence, human review,
agent acknowledgements and disputes, coaching notes and calibration.

- :mod:`.forms` parses and validates form files (TOML) and ships the default form;
- :mod:`.scoring` answers a form automatically from a call's stored figures and scores it;
- :mod:`.workflow` is what people do: review, override, acknowledge, dispute, resolve,
  coach, mark a call private;
- :mod:`.calibration` compares evaluators scoring the same calls blind.

The rows are read and written by :mod:`analytics.store.evaluations` only.
"""
