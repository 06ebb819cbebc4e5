"""reports: versioned report and dashboard definitions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 04:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _definitions_table(name: str, with_entity: bool) -> None:
    columns = [
        sa.Column('id', ID, nullable=False),
        sa.Column('app_id', ID, nullable=False),
        sa.Column('key', sa.String(length=63), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
    ]
    if with_entity:
        columns.append(sa.Column('entity_key', sa.String(length=63), nullable=False))
    columns += [
        sa.Column('definition', sa.JSON(), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    ]
    op.create_table(name, *columns,
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f(f'fk_{name}_app_id_apps'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{name}')),
    sa.UniqueConstraint('app_id', 'key', 'version', name=f'uq_{name}_app_key_version')
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f'ix_{name}_app_id'), ['app_id'], unique=False)


def upgrade() -> None:
    _definitions_table('report_definitions', with_entity=True)
    _definitions_table('dashboard_definitions', with_entity=False)


def downgrade() -> None:
    for name in ('dashboard_definitions', 'report_definitions'):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{name}_app_id'))
        op.drop_table(name)
