"""rules: versioned rule definitions, event outbox, run log, action idempotency keys,
notifications, mail outbox, rule tasks, schedule state

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 02:55:07.476263
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mail_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_outbox'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('app_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('source', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_notifications_app_id_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_user', ['username', 'id'], unique=False)

    op.create_table('rule_action_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=300), nullable=False),
    sa.Column('app_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action_type', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_rule_action_runs_app_id_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_action_runs')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_rule_action_runs_idempotency_key'))
    )
    with op.batch_alter_table('rule_action_runs', schema=None) as batch_op:
        batch_op.create_index('ix_rule_action_runs_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('rule_app_state',
    sa.Column('app_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('revision', sa.String(length=32), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_rule_app_state_app_id_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('app_id', name=op.f('pk_rule_app_state'))
    )
    op.create_table('rule_definitions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('app_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=63), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('trigger_type', sa.String(length=32), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('sync', sa.Boolean(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_rule_definitions_app_id_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_definitions')),
    sa.UniqueConstraint('app_id', 'key', 'version', name='uq_rule_definitions_app_key_version')
    )
    with op.batch_alter_table('rule_definitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_definitions_app_id'), ['app_id'], unique=False)

    op.create_table('rule_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('app_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ref', sa.String(length=200), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=63), nullable=False),
    sa.Column('record_id', sa.BigInteger(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_rule_events_app_id_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_events')),
    sa.UniqueConstraint('app_id', 'ref', name='uq_rule_events_app_ref')
    )
    with op.batch_alter_table('rule_events', schema=None) as batch_op:
        batch_op.create_index('ix_rule_events_status', ['status', 'id'], unique=False)

    op.create_table('rule_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('app_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rule_key', sa.String(length=63), nullable=False),
    sa.Column('rule_version', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('event_ref', sa.String(length=200), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('entity_key', sa.String(length=63), nullable=True),
    sa.Column('record_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_rule_runs_app_id_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_runs')),
    sa.UniqueConstraint('app_id', 'rule_key', 'rule_version', 'event_ref', name='uq_rule_runs_app_rule_key')
    )
    with op.batch_alter_table('rule_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_runs_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_rule_runs_rule', ['app_id', 'rule_key', 'id'], unique=False)

    op.create_table('rule_schedules',
    sa.Column('app_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rule_key', sa.String(length=63), nullable=False),
    sa.Column('last_fire_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_rule_schedules_app_id_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('app_id', 'rule_key', name=op.f('pk_rule_schedules'))
    )
    op.create_table('rule_tasks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('app_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('assignee_kind', sa.String(length=8), nullable=False),
    sa.Column('assignee', sa.String(length=64), nullable=False),
    sa.Column('entity_key', sa.String(length=63), nullable=True),
    sa.Column('record_id', sa.BigInteger(), nullable=True),
    sa.Column('rule_key', sa.String(length=63), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_rule_tasks_app_id_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_tasks'))
    )
    with op.batch_alter_table('rule_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_rule_tasks_assignee', ['assignee_kind', 'assignee', 'state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('rule_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_rule_tasks_assignee')

    op.drop_table('rule_tasks')
    op.drop_table('rule_schedules')
    with op.batch_alter_table('rule_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_rule_runs_rule')
        batch_op.drop_index(batch_op.f('ix_rule_runs_created_at'))

    op.drop_table('rule_runs')
    with op.batch_alter_table('rule_events', schema=None) as batch_op:
        batch_op.drop_index('ix_rule_events_status')

    op.drop_table('rule_events')
    with op.batch_alter_table('rule_definitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rule_definitions_app_id'))

    op.drop_table('rule_definitions')
    op.drop_table('rule_app_state')
    with op.batch_alter_table('rule_action_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_rule_action_runs_due')

    op.drop_table('rule_action_runs')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user')

    op.drop_table('notifications')
    op.drop_table('mail_outbox')
