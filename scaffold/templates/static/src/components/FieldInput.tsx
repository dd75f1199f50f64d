import { useId, type ReactNode } from "react";
import type { DraftValue, FieldDef } from "../fields";
import { StarRating } from "./StarRating";

interface FieldInputProps {
  field: FieldDef;
  value: DraftValue;
  error?: string;
  onChange: (value: DraftValue) => void;
}

/** FieldInput renders the input that matches a field's type, with its label and error. */
export function FieldInput({ field, value, error, onChange }: FieldInputProps) {
  const id = useId();
  const errorId = `${id}-error`;
  const helpId = `${id}-help`;
  const text = typeof value === "string" ? value : "";
  const describedBy = [field.type === "string[]" ? helpId : "", error ? errorId : ""].filter(Boolean).join(" ") || undefined;
  const errorText = error ? (
    <p id={errorId} className="field-error" role="alert">
      {error}
    </p>
  ) : null;

  if (field.type === "boolean") {
    return (
      <div className="field field-check">
        <input id={id} type="checkbox" checked={value === true} onChange={(event) => onChange(event.target.checked)} />
        <label htmlFor={id}>{field.label}</label>
      </div>
    );
  }

  if (field.type === "rating") {
    return (
      <fieldset className="field" aria-describedby={describedBy}>
        <legend>
          {field.label}
          {field.required && <span aria-hidden="true"> *</span>}
        </legend>
        <StarRating name={id} value={typeof value === "number" ? value : 0} onChange={onChange} />
        {errorText}
      </fieldset>
    );
  }

  const common = {
    id,
    value: text,
    required: field.required,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": describedBy,
  };
  let control: ReactNode;
  switch (field.type) {
    case "number":
      control = <input {...common} type="number" inputMode="decimal" step="any" onChange={(event) => onChange(event.target.value)} />;
      break;
    case "date":
      control = <input {...common} type="date" onChange={(event) => onChange(event.target.value)} />;
      break;
    case "string[]":
      control = (
        <input {...common} type="text" placeholder="first, second, third" onChange={(event) => onChange(event.target.value)} />
      );
      break;
    default:
      control =
        field.hint === "textarea" ? (
          <textarea {...common} rows={4} onChange={(event) => onChange(event.target.value)} />
        ) : (
          <input {...common} type={field.hint} autoComplete={autoComplete(field)} onChange={(event) => onChange(event.target.value)} />
        );
  }

  return (
    <div className="field">
      <label htmlFor={id}>
        {field.label}
        {field.required && <span aria-hidden="true"> *</span>}
      </label>
      {control}
      {field.type === "string[]" && (
        <p id={helpId} className="field-help">
          Separate items with commas.
        </p>
      )}
      {errorText}
    </div>
  );
}

function autoComplete(field: FieldDef): string {
  switch (field.hint) {
    case "email":
      return "email";
    case "tel":
      return "tel";
    case "url":
      return "url";
    default:
      return field.key === "name" ? "name" : "off";
  }
}
