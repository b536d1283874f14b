import { type LabBrowserResult, labCsv } from '../../core/lab/index.ts';

const urls: string[] = [];

/**
 * Fills `container` with download links (`#lab-export-json`, `#lab-export-csv`) to Blob URLs of the result:
 * JSON as the worker returned it, CSV one row per variant.
 */
export function setExports(container: HTMLElement, result: LabBrowserResult): void {
  for (const url of urls.splice(0)) URL.revokeObjectURL(url);
  const stem = `edgerec-lab-${result.bundle}-${result.split}`;
  const link = (id: string, label: string, text: string, type: string, ext: string) => {
    const url = URL.createObjectURL(new Blob([text], { type }));
    urls.push(url);
    const a = document.createElement('a');
    a.id = id;
    a.href = url;
    a.download = `${stem}.${ext}`;
    a.textContent = label;
    return a;
  };
  container.replaceChildren(
    'Export: ',
    link('lab-export-json', 'JSON', `${JSON.stringify(result, null, 2)}\n`, 'application/json', 'json'),
    ' · ',
    link('lab-export-csv', 'CSV', labCsv(result), 'text/csv', 'csv'),
  );
}
