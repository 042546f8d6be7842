"""jobs: periodic_job (one claimed period per global periodic job, last run for health)

Revision ID: 5a1c0b7e2d3f
Revises: 9c6b331f71e9
Create Date: 2026-12-02 17:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op



revision: str = '5a1c0b7e2d3f'
down_revision: str | None = '9c6b331f71e9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('periodic_job',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('last_period', sa.BigInteger(), nullable=False),
    sa.Column('last_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_periodic_job'))
    )


def downgrade() -> None:
    op.drop_table('periodic_job')
