namespace PgShift.Cli;

/// <summary>
/// Draws the latest of the snapshots a task publishes, at a pace for a person: twice a second on a terminal (where
/// the drawing replaces the last), every 5 s when output is not a terminal (where each drawing adds lines).
/// </summary>
internal abstract class PacedRenderer<T>(bool terminal) where T : class
{
    private readonly TimeSpan _interval = terminal ? TimeSpan.FromMilliseconds(500) : TimeSpan.FromSeconds(5);
    private DateTime _drawnAt = DateTime.UtcNow;
    private T? _last;

    protected bool Terminal => terminal;

    /// <summary>Draws <paramref name="snapshot"/> when the last drawing is old enough.</summary>
    public void Show(T? snapshot)
    {
        _last = snapshot ?? _last;
        // A little early rather than a tick late: the task publishes twice a second.
        if (DateTime.UtcNow - _drawnAt >= _interval - TimeSpan.FromMilliseconds(50))
        {
            Redraw();
        }
    }

    /// <summary>Draws the end.</summary>
    public virtual void Finish(T? snapshot)
    {
        _last = snapshot ?? _last;
        Redraw();
    }

    protected abstract void Draw(T snapshot);

    private void Redraw()
    {
        _drawnAt = DateTime.UtcNow;
        if (_last is { } last)
        {
            Draw(last);
        }
    }
}
