"""Personalization angles: catalog, eligibility, user vectors, the contextual-bandit policy,
feedback, offline evaluation, monitoring and experiments. Import submodules directly."""

__all__: list[str] = []
