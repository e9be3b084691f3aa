"""Catalog tables of the angle policy: decisions (with propensities), feedback events, bandit
model state (embedded mode), per-title exposure counts and user profiles from onboarding."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base, utcnow

__all__ = ["AngleDecisionRow", "AngleEventRow", "AngleModelRow", "AngleTitleStatRow", "AngleUserProfileRow"]


class AngleDecisionRow(Base):
    """One logged decision. ``features``/``priors``/``probs``/``eligible`` let offline evaluation
    replay any candidate policy; ``reward``/``applied`` track what the bandit has learned from it."""

    __tablename__ = "angle_decisions"

    decision_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(128), index=True, nullable=True)
    title_id: Mapped[str] = mapped_column(String(128), index=True)
    angle_id: Mapped[str] = mapped_column(String(128))
    propensity: Mapped[float] = mapped_column(sa.Float)
    probs: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    eligible: Mapped[list] = mapped_column(sa.JSON, default=list)
    features: Mapped[list] = mapped_column(sa.JSON, default=list)
    priors: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    context: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    policy: Mapped[str] = mapped_column(String(64), default="")
    variant: Mapped[str | None] = mapped_column(String(64), nullable=True)
    shadow: Mapped[dict | None] = mapped_column(sa.JSON, nullable=True)
    explanation: Mapped[str] = mapped_column(sa.Text, default="")
    reward: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    applied: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class AngleEventRow(Base):
    __tablename__ = "angle_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    title_id: Mapped[str] = mapped_column(String(128))
    angle_id: Mapped[str] = mapped_column(String(128))
    decision_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    type: Mapped[str] = mapped_column(String(32))
    seconds_watched: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    ts: Mapped[dt.datetime] = mapped_column()
    session_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    interaction: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AngleModelRow(Base):
    """Sufficient statistics of one angle's Bayesian linear model (embedded mode)."""

    __tablename__ = "angle_models"

    angle_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    dim: Mapped[int] = mapped_column(sa.Integer)
    n: Mapped[float] = mapped_column(sa.Float, default=0.0)
    xtx: Mapped[list] = mapped_column(sa.JSON, default=list)  # flattened dim x dim
    xty: Mapped[list] = mapped_column(sa.JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AngleTitleStatRow(Base):
    __tablename__ = "angle_title_stats"

    title_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    impressions: Mapped[int] = mapped_column(sa.Integer, default=0)


class AngleUserProfileRow(Base):
    """A user vector set by onboarding picks (deleted with the user)."""

    __tablename__ = "angle_user_profiles"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    embedding: Mapped[list] = mapped_column(sa.JSON)
    source: Mapped[str] = mapped_column(String(32), default="onboarding")
    picks: Mapped[list] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
