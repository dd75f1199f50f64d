import { useState, type FormEvent } from "react";
import { emptyDraft, validateDraft, type Draft, type FieldDef } from "../fields";
import { FieldInput } from "./FieldInput";

interface EntityFormProps {
  title: string;
  fields: readonly FieldDef[];
  /** Values to edit; a new, empty draft when absent. */
  initial?: Draft;
  submitLabel: string;
  onSubmit: (draft: Draft) => void;
  onCancel?: () => void;
}

/** EntityForm edits one record: it validates on submit and shows errors next to their fields. */
export function EntityForm({ title, fields, initial, submitLabel, onSubmit, onCancel }: EntityFormProps) {
  const [draft, setDraft] = useState<Draft>(() => initial ?? emptyDraft(fields));
  const [errors, setErrors] = useState<Record<string, string>>({});

  function handleSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const found = validateDraft(fields, draft);
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    onSubmit(draft);
    if (!initial) setDraft(emptyDraft(fields));
  }

  return (
    <form className="entity-form" onSubmit={handleSubmit} noValidate aria-label={title}>
      <h3 className="form-title">{title}</h3>
      <div className="form-grid">
        {fields.map((field) => (
          <FieldInput
            key={field.key}
            field={field}
            value={draft[field.key]}
            error={errors[field.key]}
            onChange={(value) => setDraft((current) => ({ ...current, [field.key]: value }))}
          />
        ))}
      </div>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary">
          {submitLabel}
        </button>
        {onCancel && (
          <button type="button" className="btn" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
