using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ferry.Sets;

/// <summary>
/// Strict reading of a YAML document into our own model: YamlDotNet's parser and node tree only (no reflection, so
/// NativeAOT-safe), every problem an <see cref="ImageSetFormatException"/> naming the line and column.
/// </summary>
internal sealed class YamlDoc(string file)
{
    /// <summary>The largest set file read (a set lists images, it is never large).</summary>
    public const int MaxBytes = 4 << 20;

    public string File { get; } = file;

    /// <summary>Parses one YAML document (an empty file is an error).</summary>
    public YamlNode Load(string text)
    {
        var stream = LoadStream(text);
        if (stream.Documents.Count == 0)
            throw Error(0, 0, "the file is empty");
        if (stream.Documents.Count > 1)
            throw Error(stream.Documents[1].RootNode.Start, "holds more than one YAML document (---); a set is one");
        return stream.Documents[0].RootNode;
    }

    /// <summary>Parses a YAML stream, turning every parser failure into one positioned error.</summary>
    public YamlStream LoadStream(string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw Error(e.Start, "not valid YAML: " + Clean(e.Message), e);
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet's scanner throws this for some unterminated flow collections.
            throw Error(0, 0, "not valid YAML (an unterminated [ or {?)", e);
        }
        return stream;
    }

    private static string Clean(string message)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 2, Idx: 20) - (Line: …): " on some messages.
        int close = message.LastIndexOf("): ", StringComparison.Ordinal);
        string m = close >= 0 && message.StartsWith("(Line", StringComparison.Ordinal) ? message[(close + 3)..] : message;
        return m.TrimEnd('.');
    }

    public ImageSetFormatException Error(Mark mark, string problem, Exception? inner = null) =>
        new(File, (int)Math.Min(mark.Line, int.MaxValue), (int)Math.Min(mark.Column, int.MaxValue), problem, inner);

    public ImageSetFormatException Error(YamlNode node, string problem, Exception? inner = null) => Error(node.Start, problem, inner);

    public ImageSetFormatException Error(int line, int column, string problem, Exception? inner = null) => new(File, line, column, problem, inner);

    /// <summary>A mapping whose keys are all in <paramref name="allowed"/>: an unknown key is an error naming the known ones.</summary>
    public Dictionary<string, (YamlScalarNode Key, YamlNode Value)> Mapping(YamlNode node, string what, params string[] allowed)
    {
        if (node is not YamlMappingNode map)
            throw Error(node, $"{what} must be a mapping (key: value), not {Kind(node)}");
        var result = new Dictionary<string, (YamlScalarNode, YamlNode)>(StringComparer.Ordinal);
        foreach (var (k, v) in map.Children)
        {
            if (k is not YamlScalarNode key || key.Value is null)
                throw Error(k, $"{what}: a key must be a plain word");
            if (Array.IndexOf(allowed, key.Value) < 0)
                throw Error(k, $"unknown key '{key.Value}' in {what} (known: {string.Join(", ", allowed)})");
            result[key.Value] = (key, v);
        }
        return result;
    }

    /// <summary>A string scalar (a quoted or plain value; null and collections are errors).</summary>
    public string String(YamlNode node, string what)
    {
        if (node is not YamlScalarNode s || s.Value is null || IsNull(s))
            throw Error(node, $"{what} must be a string, not {Kind(node)}");
        return s.Value;
    }

    /// <summary>A non-negative integer (plain scalar).</summary>
    public int Int(YamlNode node, string what)
    {
        if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } v } && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            return n;
        throw Error(node, $"{what} must be a whole number, not {Kind(node)}");
    }

    /// <summary><c>true</c> or <c>false</c> (YAML 1.2: not yes/no/on/off).</summary>
    public bool Bool(YamlNode node, string what)
    {
        if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } v })
        {
            if (v is "true" or "True" or "TRUE")
                return true;
            if (v is "false" or "False" or "FALSE")
                return false;
        }
        throw Error(node, $"{what} must be true or false, not {Kind(node)}");
    }

    /// <summary>A sequence of strings; a single string stands for a list of one.</summary>
    public List<(string Value, YamlNode Node)> Strings(YamlNode node, string what)
    {
        if (node is YamlScalarNode && !IsNull(node))
            return [(String(node, what), node)];
        if (node is not YamlSequenceNode seq)
            throw Error(node, $"{what} must be a list of strings, not {Kind(node)}");
        return seq.Children.Select(c => (String(c, what + " entry"), c)).ToList();
    }

    public YamlSequenceNode Sequence(YamlNode node, string what) =>
        node as YamlSequenceNode ?? throw Error(node, $"{what} must be a list, not {Kind(node)}");

    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    /// <summary>What a node is, for messages: <c>a list</c>, <c>a mapping</c>, <c>'abc'</c>, <c>nothing</c>.</summary>
    public static string Kind(YamlNode node) => node switch
    {
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        YamlScalarNode s when IsNull(s) => "nothing",
        YamlScalarNode s => "'" + Digests.Digest.Describe(s.Value ?? "") + "'",
        _ => "an alias",
    };
}
