"""tandem's guardrails: the rule logic (``policy.rules``) shared by the CrossGuard policy pack
(``policy/__main__.py``) and the offline ``tandem check``."""
