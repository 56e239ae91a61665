// Ferry.Core from NuGet: open an archive, list its images, copy it to a portable archive with progress, verify it.
using Ferry.Copy;
using Ferry.Progress;
using Ferry.Transports;
using Ferry.Verify;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: LibraryExample ARCHIVE OUTPUT.tar");
    return 2;
}

var reference = TransportRegistry.Default.Parse(args[0]);
await using (var source = await reference.Transport.OpenSourceAsync(reference, new TransportOptions()))
{
    foreach (var image in source.Images)
        Console.WriteLine($"{image.Label}  {image.Key}");
}

var copy = await ImageCopier.CopyAsync(args[0], args[1], new CopyOptions { Progress = CopyProgress.To(new Printer()) });
Console.WriteLine($"copied {copy.Images.Count} image(s) to {copy.Destination} ({copy.DestinationFormat})");

var report = await ImageValidator.VerifyAsync(TransportRegistry.Default.Parse(args[1]), new TransportOptions());
foreach (var finding in report.Findings)
    Console.WriteLine(finding);
Console.WriteLine(report.Ok ? $"verified: {report.ImagesChecked} image(s), {report.BlobsChecked} blobs" : "verification FAILED");
return report.Ok ? 0 : 1;

/// <summary>Says each blob as it is done (reports come from several threads at once).</summary>
internal sealed class Printer : IProgress<CopyProgressReport>
{
    public void Report(CopyProgressReport value)
    {
        if (value.Finished)
            Console.Error.WriteLine($"  {value.Item}: {value.BytesDone} of {value.TotalBytes} bytes ({value.JobBytesDone} of {value.JobBytesPlanned} of the copy)");
    }
}
