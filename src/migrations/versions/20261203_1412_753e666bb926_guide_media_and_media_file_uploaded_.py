"""guide: media and media_file (uploaded images and audio, their stored files)

Revision ID: 753e666bb926
Revises: b7d41f0e9a21
Create Date: 2026-12-03 14:12:44+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '753e666bb926'
down_revision: str | None = 'b7d41f0e9a21'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('media',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('source_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('locale', sqlmodel.sql.sqltypes.AutoString(length=35), nullable=True),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('mime_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('source_mime', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('licence', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('credit', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('captions', sa.JSON(), nullable=False),
    sa.Column('uploaded_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'image' AND width > 0 AND height > 0 AND duration_ms IS NULL) OR (kind = 'audio' AND duration_ms > 0 AND width IS NULL AND height IS NULL AND locale IS NOT NULL)", name=op.f('ck_media_shape_of_kind')),
    sa.CheckConstraint("kind IN ('image', 'audio')", name=op.f('ck_media_kind_known')),
    sa.CheckConstraint('size_bytes > 0', name=op.f('ck_media_size_positive')),
    sa.ForeignKeyConstraint(['uploaded_by'], ['user_account.id'], name=op.f('fk_media_uploaded_by_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media')),
    sa.UniqueConstraint('source_hash', name=op.f('uq_media_source_hash'))
    )
    op.create_table('media_file',
    sa.Column('media_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('variant', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('mime_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.CheckConstraint('size_bytes > 0', name=op.f('ck_media_file_size_positive')),
    sa.ForeignKeyConstraint(['media_id'], ['media.id'], name=op.f('fk_media_file_media_id_media'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('media_id', 'variant', name=op.f('pk_media_file'))
    )
    with op.batch_alter_table('media_file', schema=None) as batch_op:
        batch_op.create_index('ix_media_file_hash', ['hash'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('media_file', schema=None) as batch_op:
        batch_op.drop_index('ix_media_file_hash')

    op.drop_table('media_file')
    op.drop_table('media')
