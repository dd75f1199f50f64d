import { formatValue, type MetricFormat } from "../format";

export interface TableColumn {
  label: string;
  format: MetricFormat;
  values: readonly number[];
}

interface DataTableProps {
  caption: string;
  rowLabels: readonly string[];
  columns: readonly TableColumn[];
}

/** DataTable lists the numbers behind the chart, newest period first. */
export function DataTable({ caption, rowLabels, columns }: DataTableProps) {
  const order = rowLabels.map((_, index) => index).reverse();
  return (
    <div className="table-wrap">
      <table className="data-table">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Period</th>
            {columns.map((column) => (
              <th key={column.label} scope="col" className="num">
                {column.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {order.map((row) => (
            <tr key={`${rowLabels[row]}-${row}`}>
              <th scope="row">{rowLabels[row]}</th>
              {columns.map((column) => (
                <td key={column.label} className="num">
                  {formatValue(column.values[row] ?? 0, column.format)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
