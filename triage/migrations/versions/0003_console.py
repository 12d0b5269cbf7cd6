"""console: accounts, login sessions, case work columns

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 17:45:00

Accounts of the console (roles kcc, bureaudienst, beheer) and their login
sessions (only a hash of the cookie's token). Cases get the columns the
console works with: which queue holds the case (kcc or bureaudienst), the
KCC's review, the bureaudienst's acceptance and assignment, the last remark
when a case is returned to the KCC, and whether it closed with an indication.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table('console_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', _S(length=100), nullable=False),
    sa.Column('role', _S(length=20), nullable=False),
    sa.Column('password_hash', _S(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', _T(), nullable=False),
    sa.Column('last_login_at', _T(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('web_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf', _S(length=64), nullable=False),
    sa.Column('created_at', _T(), nullable=False),
    sa.Column('expires_at', _T(), nullable=False),
    sa.Column('last_seen_at', _T(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['console_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_session_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_session_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue', _S(length=20), nullable=False, server_default='kcc'))
        batch_op.add_column(sa.Column('review', _S(length=20), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by', _S(length=100), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', _T(), nullable=True))
        batch_op.add_column(sa.Column('assigned_to', _S(length=100), nullable=True))
        batch_op.add_column(sa.Column('accepted_by', _S(length=100), nullable=True))
        batch_op.add_column(sa.Column('accepted_at', _T(), nullable=True))
        batch_op.add_column(sa.Column('remark', _S(length=2000), nullable=True))
        batch_op.add_column(sa.Column('indicatie', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', _T(), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_queue'), ['queue'], unique=False)
    # cases from before the console: the bureaudienst holds what was routed to it
    op.execute("UPDATE \"case\" SET queue = 'bureaudienst' WHERE route IN ('bureaudienst', 'crisis')")


def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_queue'))
        for col in ('updated_at', 'indicatie', 'remark', 'accepted_at', 'accepted_by', 'assigned_to', 'reviewed_at',
                    'reviewed_by', 'review', 'queue'):
            batch_op.drop_column(col)
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_session_expires_at'))
        batch_op.drop_index(batch_op.f('ix_web_session_user_id'))
    op.drop_table('web_session')
    op.drop_table('console_user')
