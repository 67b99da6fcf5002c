"""staff roles, staff 2FA and sign-ins, the append-only audit log, per-client automation

Revision ID: 334c4ef648bf
Revises: b1f3a5c7e9d0
Create Date: 2026-12-02 21:26:03.320525

"""
from alembic import op
import sqlalchemy as sa

# The audit log is append-only: the database refuses UPDATE and DELETE of its rows.
_REFUSE = "the audit log is append-only"


def create_audit_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION refuse_audit_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{_REFUSE}' USING ERRCODE = 'integrity_constraint_violation';
            END $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION refuse_audit_change()
        """)
        # TRUNCATE is a statement, not a row change: refused by its own trigger.
        op.execute("""
            CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change()
        """)
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_log_append_only_{event.lower()} BEFORE {event} ON audit_log
                BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END
            """)


def drop_audit_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS refuse_audit_change()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only_delete")


# revision identifiers, used by Alembic.
revision = 'c2e4a6b8d0f1'
down_revision = 'b1f3a5c7e9d0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_kind', sa.String(length=10), nullable=False),
    sa.Column('actor', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.String(length=80), nullable=True),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_actor_id', ['actor', 'id'], unique=False)
        batch_op.create_index('ix_audit_log_client_id_id', ['client_id', 'id'], unique=False)

    op.create_table('staff_roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('privileges', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_roles')),
    sa.UniqueConstraint('name', name=op.f('uq_staff_roles_name'))
    )
    op.create_table('staff_login_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_login_events_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_login_events'))
    )
    with op.batch_alter_table('staff_login_events', schema=None) as batch_op:
        batch_op.create_index('ix_staff_login_events_staff_id_id', ['staff_id', 'id'], unique=False)

    op.create_table('staff_recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_recovery_codes_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_recovery_codes'))
    )
    with op.batch_alter_table('staff_recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_recovery_codes_staff_id'), ['staff_id'], unique=False)

    op.create_table('staff_role_members',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['staff_roles.id'], name=op.f('fk_staff_role_members_role_id_staff_roles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_role_members_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', 'role_id', name=op.f('pk_staff_role_members'))
    )
    op.add_column('clients', sa.Column('auto_suspend', sa.Boolean(), nullable=True))
    op.add_column('clients', sa.Column('send_reminders', sa.Boolean(), nullable=True))
    op.add_column('clients', sa.Column('send_sms', sa.Boolean(), nullable=True))
    op.add_column('clients', sa.Column('affiliate', sa.String(length=120), nullable=True))
    op.add_column('clients', sa.Column('tags', sa.JSON(), nullable=False, server_default='[]'))

    op.add_column('staff', sa.Column('invited_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('staff', sa.Column('totp_secret', sa.String(length=128), nullable=True))
    op.add_column('staff', sa.Column('totp_enabled_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('staff', sa.Column('totp_last_step', sa.BigInteger(), nullable=True))

    create_audit_triggers()


def downgrade():
    drop_audit_triggers()
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_enabled_at')
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('invited_at')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('tags')
        batch_op.drop_column('affiliate')
        batch_op.drop_column('send_sms')
        batch_op.drop_column('send_reminders')
        batch_op.drop_column('auto_suspend')

    op.drop_table('staff_role_members')
    with op.batch_alter_table('staff_recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_recovery_codes_staff_id'))

    op.drop_table('staff_recovery_codes')
    with op.batch_alter_table('staff_login_events', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_login_events_staff_id_id')

    op.drop_table('staff_login_events')
    op.drop_table('staff_roles')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_client_id_id')
        batch_op.drop_index('ix_audit_log_actor_id')

    op.drop_table('audit_log')
