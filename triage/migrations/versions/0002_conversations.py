"""chat conversations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 15:40:00

One row per chat conversation (web chat session, Telegram chat) with the
conversation engine's state, so a conversation resumes after a restart. The
resident's chat messages are inbound_message rows with kanaal "chat".
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kanaal', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('state', sa.JSON(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('since_message_id', sa.Integer(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kanaal', 'external_id', name='uq_conversation_external')
    )
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_updated_at'), ['updated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_updated_at'))
        batch_op.drop_index(batch_op.f('ix_conversation_status'))
        batch_op.drop_index(batch_op.f('ix_conversation_case_id'))

    op.drop_table('conversation')
