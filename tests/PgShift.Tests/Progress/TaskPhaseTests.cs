using PgShift.Progress;

namespace PgShift.Tests.Progress;

public sealed class TaskPhaseTests
{
    [Theory]
    [InlineData("schema", TaskPhase.Schema)]
    [InlineData("copy", TaskPhase.Copy)]
    [InlineData("post-data", TaskPhase.PostData)]
    [InlineData("stream", TaskPhase.Stream)]
    [InlineData("cutover", TaskPhase.Cutover)]
    [InlineData("finished", TaskPhase.Finished)]
    [InlineData("stopped", TaskPhase.Stopped)]
    public void Every_phase_reads_back_as_it_is_stored(string text, TaskPhase phase)
    {
        Assert.Equal(phase, TaskPhases.Parse(text));
        Assert.Equal(text, phase.Text());
    }

    [Fact]
    public void A_task_stopped_right_after_its_schema_phase_committed_reads_as_in_its_schema_phase()
        // The schema phase records its completion in the task's row ("pre-data") before the copy starts: a process killed
        // in between must leave a task that resumes, shows and cleans up.
        => Assert.Equal(TaskPhase.Schema, TaskPhases.Parse("pre-data"));

    [Fact]
    public void An_unknown_phase_names_itself_and_what_to_do()
    {
        var ex = Assert.Throws<PgShiftException>(() => TaskPhases.Parse("warp"));
        Assert.Contains("unknown phase 'warp'", ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.Fix);
    }
}
