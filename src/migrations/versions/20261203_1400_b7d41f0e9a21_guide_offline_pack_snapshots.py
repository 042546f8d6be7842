"""guide: offline_pack_snapshot (item index of each served offline pack version, for deltas)

Revision ID: b7d41f0e9a21
Revises: ff275ab8162d
Create Date: 2026-12-03 14:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'b7d41f0e9a21'
down_revision: str | None = 'ff275ab8162d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('offline_pack_snapshot',
    sa.Column('area', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('locale', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('item_hashes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('area', 'locale', 'version', name=op.f('pk_offline_pack_snapshot')),
    )
    with op.batch_alter_table('offline_pack_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offline_pack_snapshot_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('offline_pack_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offline_pack_snapshot_created_at'))
    op.drop_table('offline_pack_snapshot')
