"""Personalization angles: which creative direction to show a user for a title, and learning from it.

Modules (import them directly):

* ``catalog``      angle definitions from ``assets/angles.toml``;
* ``eligibility``  per-title support 0..1 per angle from shot features and genres (``min_support`` floor);
* ``users``        ``build_user``: checked embedding, or recency-weighted MiniLM vector of the watch history;
* ``onboarding``   diverse grid of titles (or angle exemplars) and ``onboard_user`` from the picks;
* ``features``     cached angle vectors, context one-hots, the bandit vector ``x`` and the zero-shot prior;
* ``calibration``  optional per-angle calibration of the prior on the catalog's titles;
* ``bandit``       per-angle Bayesian linear models, Thompson sampling with an epsilon floor, exact propensities;
* ``state``        bandit state, sessions, sticky decisions: catalog + memory (embedded) or Redis;
* ``policy``       ``AnglePolicy.choose`` / ``update``, ``get_policy`` (process-wide), shadow mode;
* ``events``       ``FeedbackEvent``, rewards (sleepy-user safe), ``record_events``, ``delete_user``;
* ``evaluation``   IPS / SNIPS / doubly robust off-policy estimates with confidence intervals;
* ``simulator``    a world with known click rates (tests, bench);
* ``monitoring``   angle mix and drift (JS distance), reward per angle, coverage;
* ``experiments``  hash bucketing, A/B reports with Winner / Preferred / Same labels.
"""

__all__: list[str] = []
