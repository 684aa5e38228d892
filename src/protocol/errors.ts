import { CloseCode } from './closeCodes.ts';

/** A peer sent something the protocol does not allow; `closeCode` is what to close with. */
export class ProtocolError extends Error {
  readonly closeCode: number;
  constructor(closeCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProtocolError';
    this.closeCode = closeCode;
  }
}

export const badFrame = (message: string, cause?: unknown): ProtocolError =>
  new ProtocolError(CloseCode.badFrame, message, { cause });
