"""rule_state: the rule matcher's window-state snapshot (survives a restart)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 03:50:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rule_state',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_rule_state'))
    )


def downgrade() -> None:
    op.drop_table('rule_state')
