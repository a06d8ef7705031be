using System.Runtime.ExceptionServices;

namespace PgShift;

/// <summary>Waiting for parallel workers (Parallel.ForEachAsync) so that a failure reads as its cause.</summary>
public static class ParallelWork
{
    /// <summary>
    /// Awaits <paramref name="running"/>; when it failed, throws the first real failure, not the cancellations it caused in
    /// the other workers.
    /// </summary>
    public static async Task WhenDoneAsync(Task running)
    {
        try
        {
            await running;
        }
        catch when (running.Exception is { } all)
        {
            var first = all.InnerExceptions.FirstOrDefault(e => e is not OperationCanceledException) ?? all.InnerExceptions[0];
            ExceptionDispatchInfo.Capture(first).Throw();
        }
    }
}
