export {
  columnRms,
  decodeF16,
  decodeItemTable,
  dequantizeRowsI8,
  dequantizeTableI8,
  encodeF16,
  quantizeRowsI8,
  quantizeTableI8,
} from './item-table.ts';
