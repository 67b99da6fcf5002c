"""tax documents: a line cannot be moved into one (UPDATE of invoice_lines checks the new invoice too)

Revision ID: d9a3b5c7e1f0
Revises: c4d8e1f2a6b9
Create Date: 2026-11-28 10:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd9a3b5c7e1f0'
down_revision = 'c4d8e1f2a6b9'
branch_labels = None
depends_on = None

_REFUSE = "tax documents are immutable: issue a credit note instead"
_NOT_PROFORMA = "(SELECT kind FROM invoices WHERE id = {row}.invoice_id) <> 'proforma'"


def _pg_function(check_new: bool) -> str:
    new_check = f"OR (TG_OP = 'UPDATE' AND {_NOT_PROFORMA.format(row='NEW')})" if check_new else ""
    return f"""
        CREATE OR REPLACE FUNCTION refuse_tax_document_line_change() RETURNS trigger AS $$
        BEGIN
            IF {_NOT_PROFORMA.format(row='OLD')} {new_check} THEN
                RAISE EXCEPTION '{_REFUSE}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql
    """


def _sqlite_update_trigger(check_new: bool) -> str:
    when = _NOT_PROFORMA.format(row="OLD")
    if check_new:
        when += " OR " + _NOT_PROFORMA.format(row="NEW")
    return f"""
        CREATE TRIGGER invoice_lines_immutable_update BEFORE UPDATE ON invoice_lines
        FOR EACH ROW WHEN {when}
        BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END
    """


def _replace(check_new: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_function(check_new))
    else:
        op.execute("DROP TRIGGER IF EXISTS invoice_lines_immutable_update")
        op.execute(_sqlite_update_trigger(check_new))


def upgrade():
    _replace(check_new=True)


def downgrade():
    _replace(check_new=False)
