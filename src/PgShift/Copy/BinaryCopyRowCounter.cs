using System.Buffers.Binary;

namespace PgShift.Copy;

/// <summary>
/// Counts the rows in a binary COPY stream as it passes through, without copying or decoding values:
/// it only follows the header, each tuple's field count and each field's length.
/// </summary>
public sealed class BinaryCopyRowCounter
{
    private const int SignatureLength = 11;
    private enum Part { Signature, Flags, ExtensionLength, Extension, FieldCount, FieldLength, FieldData, Trailer }

    private Part _state = Part.Signature;
    private long _skip = SignatureLength;
    private readonly byte[] _pending = new byte[4];
    private int _pendingCount;
    private int _fieldsLeft;

    public long Rows { get; private set; }

    public void Feed(ReadOnlySpan<byte> data)
    {
        var i = 0;
        while (i < data.Length)
        {
            switch (_state)
            {
                case Part.Signature or Part.Extension or Part.FieldData or Part.Trailer:
                    var take = (int)Math.Min(_skip, data.Length - i);
                    i += take;
                    _skip -= take;
                    if (_skip == 0)
                    {
                        _state = _state switch
                        {
                            Part.Signature => Part.Flags,
                            Part.FieldData => NextField(),
                            Part.Extension => Part.FieldCount,
                            _ => Part.Trailer,
                        };
                        if (_state == Part.Trailer)
                        {
                            _skip = long.MaxValue;
                        }
                    }
                    break;
                default:
                    var need = _state == Part.FieldCount ? 2 : 4;
                    while (_pendingCount < need && i < data.Length)
                    {
                        _pending[_pendingCount++] = data[i++];
                    }
                    if (_pendingCount < need)
                    {
                        return;
                    }
                    _pendingCount = 0;
                    OnInteger(need == 2 ? BinaryPrimitives.ReadInt16BigEndian(_pending) : BinaryPrimitives.ReadInt32BigEndian(_pending));
                    break;
            }
        }
    }

    private void OnInteger(int value)
    {
        switch (_state)
        {
            case Part.Flags:
                _state = Part.ExtensionLength;
                break;
            case Part.ExtensionLength:
                _skip = value;
                _state = value > 0 ? Part.Extension : Part.FieldCount;
                break;
            case Part.FieldCount:
                if (value == -1)
                {
                    _state = Part.Trailer;
                    _skip = long.MaxValue;
                    return;
                }
                Rows++;
                _fieldsLeft = value;
                _state = value > 0 ? Part.FieldLength : Part.FieldCount;
                break;
            case Part.FieldLength:
                if (value > 0)
                {
                    _skip = value;
                    _state = Part.FieldData;
                }
                else
                {
                    _state = NextField();
                }
                break;
        }
    }

    private Part NextField() => --_fieldsLeft > 0 ? Part.FieldLength : Part.FieldCount;
}
